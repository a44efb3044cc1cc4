// TimescaleDB-in-PGlite (WASM) PostgreSQL wire-protocol server for the test suite.
// Python side: tests/support/pglite.py (running_pglite), which also lists what this
// server can and cannot do.
//
// Usage:
//   node server.mjs [--port N] [--data-dir PATH|memory://] [--exit-on-stdin-close]
//                   [--max-connections N] [--debug]
// Environment fallbacks: PGLITE_PORT, PGLITE_DATA_DIR, PGLITE_MAX_CONNECTIONS, PGLITE_DEBUG.
//
// Port 0 (the default) lets the OS choose a free port. Once the server listens it prints
// exactly one line `READY <port>` on stdout; everything else goes to stderr.
// The data dir defaults to memory:// (nothing kept); a directory keeps the data across runs.
// SIGTERM / SIGINT stop the listener, close the database and exit with status 0.
// --exit-on-stdin-close also shuts down when stdin reaches EOF, so a parent holding the
// write end of a pipe can never leave the server orphaned.
// Exit status 70: the PGlite backend crashed (the database is unusable).
//
// Clients: postgresql://postgres:postgres@127.0.0.1:<port>/postgres?sslmode=disable
// PGlite asks for an MD5 password but accepts any; the user name and database are ignored
// (you are always postgres in template1). SSL/GSS requests are declined, so libpq's default
// sslmode=prefer works; sslmode=require does not.
//
// --max-connections N > 1 (default 1) enables pglite-socket's multiplexer. Do not rely on
// it: all clients share the one PGlite session, a client inside a transaction stalls every
// other client (even its connection start-up), and concurrent use from threads was seen to
// hang and to hand one client another's reply.
// First: defines what Node 18 lacks (CustomEvent) before pglite-socket loads.
import './node18.mjs';

import { parseArgs } from 'node:util';

import { PGlite } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

function log(...args) {
  console.error('[pglite-server]', ...args);
}

let db = null;
let server = null;
let stopping = false;

const { values } = parseArgs({
  options: {
    port: { type: 'string', short: 'p' },
    'data-dir': { type: 'string', short: 'd' },
    'max-connections': { type: 'string', short: 'm' },
    'exit-on-stdin-close': { type: 'boolean', default: false },
    debug: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

const port = Number.parseInt(values.port ?? process.env.PGLITE_PORT ?? '0', 10);
const dataDir = values['data-dir'] ?? process.env.PGLITE_DATA_DIR ?? 'memory://';
const maxConnections = Number.parseInt(
  values['max-connections'] ?? process.env.PGLITE_MAX_CONNECTIONS ?? '1',
  10,
);
const debug = values.debug || ['1', 'true', 'yes'].includes(process.env.PGLITE_DEBUG ?? '');

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  log(`invalid port: ${values.port ?? process.env.PGLITE_PORT}`);
  process.exit(2);
}
if (!Number.isInteger(maxConnections) || maxConnections < 1) {
  log(`invalid max connections: ${maxConnections}`);
  process.exit(2);
}

// --- Connection front door -------------------------------------------------------------
// pglite-socket 0.0.22 hands every byte straight to PGlite. A client that first asks for
// SSL or GSS encryption (libpq's default sslmode=prefer does) sends an 8-byte request that
// pglite-socket buffers forever, so the client hangs and holds the only connection slot.
// A CancelRequest would be fed to PGlite as if it were a query. And a connection over the
// limit gets a raw "Too many connections" line that libpq reports as "server closed the
// connection unexpectedly". So look at the first packets ourselves: answer 'N' (no
// encryption) to SSL/GSS requests, drop cancel requests (PGlite cannot cancel a running
// statement), hold a connection over the limit for up to SLOT_WAIT_MS until a slot frees
// and refuse it then with a proper FATAL 53300 ErrorResponse, reset the shared session
// between clients (see resetSession), and pass everything else on untouched.
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const SLOT_WAIT_MS = 3000;

function errorResponse(sqlstate, message, severity = 'FATAL') {
  const fields = [
    ['S', severity],
    ['V', severity],
    ['C', sqlstate],
    ['M', message],
  ];
  const body = Buffer.concat([
    ...fields.map(([code, text]) => Buffer.from(`${code}${text}\0`, 'utf8')),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'ascii');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

// Every client talks to the same single PGlite backend session, so without a reset a new
// connection would inherit the last one's SET parameters, temp tables, prepared
// statements (psycopg's automatic "_pg3_0"... names then clash: DuplicatePreparedStatement),
// LISTENs and advisory locks. When the last client disconnects, roll back whatever it left
// open and DISCARD ALL before the next client is let in.
// PGlite itself sets some parameters at session level (search_path = public over a
// command-line pg_catalog), which DISCARD ALL would lose: they are captured at start-up
// (initialSettings) and set again after it.
let sessionReset = Promise.resolve();
let initialSettings = [];

async function captureSessionSettings(pglite) {
  const result = await pglite.query(
    "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session'",
  );
  initialSettings = result.rows;
}

async function resetSession(pglite) {
  if (crashed || stopping || pglite.closed) {
    return;
  }
  try {
    if (pglite.isInTransaction()) {
      await pglite.exec('ROLLBACK');
    }
    await pglite.exec('DISCARD ALL');
    for (const { name, setting } of initialSettings) {
      await pglite.query('SELECT pg_catalog.set_config($1, $2, false)', [name, setting]);
    }
  } catch (err) {
    log('could not reset the session after a client left:', err);
  }
}

function installFrontDoor(socketServer, limit) {
  const handleConnection = socketServer.handleConnection;
  if (typeof handleConnection !== 'function' || !(socketServer.handlers instanceof Set)) {
    log('pglite-socket internals changed: SSL/GSS negotiation is not intercepted');
    return;
  }
  // Let the front door, not net.Server, enforce the limit (see above).
  if (socketServer.server) {
    socketServer.server.maxConnections = Number.POSITIVE_INFINITY;
  }
  socketServer.handleConnection = function frontDoor(socket) {
    let buffered = Buffer.alloc(0);
    const giveUp = () => {
      socket.removeListener('data', onData);
      socket.destroy();
    };
    const onData = (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 8) {
        const length = buffered.readInt32BE(0);
        const code = buffered.readInt32BE(4);
        if (length === 8 && (code === SSL_REQUEST || code === GSSENC_REQUEST)) {
          socket.write('N');
          buffered = buffered.subarray(8);
          continue;
        }
        if (length === 16 && code === CANCEL_REQUEST) {
          giveUp();
          return;
        }
        break;
      }
      if (buffered.length < 8) {
        return; // wait for the startup packet
      }
      socket.removeListener('data', onData);
      socket.pause();
      admit(buffered).catch((err) => {
        log('error admitting a connection:', err);
        socket.destroy();
      });
    };
    // A client that closes a connection and at once opens the next one usually gets here
    // before the old socket's 'close' event has freed its slot, so wait a little for a
    // slot before refusing.
    const admit = async (startup) => {
      const deadline = Date.now() + SLOT_WAIT_MS;
      while (socketServer.handlers.size >= limit && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (socket.destroyed) {
          return;
        }
      }
      if (socketServer.handlers.size >= limit) {
        socket.end(
          errorResponse(
            '53300',
            `sorry, too many clients already: this PGlite test server accepts ${limit} ` +
              `connection(s) at a time and none was freed within ${SLOT_WAIT_MS} ms ` +
              '(close the other connection first)',
          ),
        );
        return;
      }
      await sessionReset;
      if (socket.destroyed) {
        return;
      }
      socket.unshift(startup);
      const before = new Set(socketServer.handlers);
      handleConnection.call(socketServer, socket); // attaches its 'data' listener synchronously
      socket.resume();
      for (const handler of socketServer.handlers) {
        if (!before.has(handler)) {
          // Registered after the server's own 'close' listener, which drops the handler.
          handler.addEventListener('close', () => {
            if (socketServer.handlers.size === 0) {
              sessionReset = resetSession(socketServer.db);
            }
          });
        }
      }
    };
    socket.on('data', onData);
    // Kept after the hand-over too: destroying a closed socket is harmless, and an 'error'
    // without any listener would crash the server.
    socket.on('close', giveUp);
    socket.on('error', giveUp);
  };
}

// --- PGlite guard -------------------------------------------------------------------------
// `COPY ... FROM STDIN` kills the PGlite backend for good: PGlite gets the COPY statement
// without the data that follows it, hits EOF, FATALs and the WASM module then traps
// ("RuntimeError: unreachable") on every later call. So a simple-protocol Query message
// (psycopg's cursor.copy() without parameters sends one) that asks for it is answered
// here with an ERROR 0A000 and never reaches PGlite. If the backend traps anyway, the
// database is unusable: say so and exit with status 70 rather than refusing every later
// connection in confusing ways.
let crashed = false;
const COPY_FROM_STDIN = /\bCOPY\b[\s\S]*?\bFROM\s+STDIN\b/i;

function readyForQuery(status) {
  const message = Buffer.alloc(6);
  message.write('Z', 0, 'ascii');
  message.writeInt32BE(5, 1);
  message.write(status, 5, 'ascii');
  return message;
}

function installGuard(pglite) {
  const execProtocolRaw = pglite.execProtocolRaw.bind(pglite);
  pglite.execProtocolRaw = async (message, options) => {
    if (crashed) {
      throw new Error('the PGlite backend has crashed');
    }
    if (message.length > 5 && message[0] === 0x51 /* 'Q' */) {
      const text = Buffer.from(message.buffer, message.byteOffset + 5, message.length - 6);
      if (COPY_FROM_STDIN.test(text.toString('utf8'))) {
        log('refused COPY ... FROM STDIN (it would crash PGlite)');
        return new Uint8Array(
          Buffer.concat([
            errorResponse(
              '0A000',
              'COPY ... FROM STDIN is not supported by the PGlite test server (it crashes ' +
                'PGlite): insert with executemany() or INSERT ... SELECT FROM unnest(...) instead',
              'ERROR',
            ),
            readyForQuery(pglite.isInTransaction() ? 'T' : 'I'),
          ]),
        );
      }
    }
    try {
      return await execProtocolRaw(message, options);
    } catch (err) {
      if (err instanceof WebAssembly.RuntimeError && !stopping) {
        crashed = true;
        log('FATAL: the PGlite backend crashed and cannot be used any more; exiting:', err);
        setImmediate(() => process.exit(70));
      }
      throw err;
    }
  };
}


async function shutdown(signal) {
  if (stopping) {
    return;
  }
  stopping = true;
  log(`${signal}: shutting down`);
  // A hung close must not keep the process alive forever.
  const watchdog = setTimeout(() => {
    log('shutdown timed out, exiting');
    process.exit(1);
  }, 10_000);
  watchdog.unref();
  try {
    if (server) {
      await server.stop();
    }
    if (db && !db.closed) {
      await db.close();
    }
  } catch (err) {
    log('error during shutdown:', err);
    process.exit(1);
  }
  process.exit(0);
}

process.on('unhandledRejection', (err) => {
  log(crashed ? 'after the crash:' : 'unhandled rejection:', err);
  process.exit(crashed ? 70 : 1);
});
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
if (values['exit-on-stdin-close']) {
  process.stdin.on('end', () => void shutdown('stdin closed'));
  process.stdin.on('error', () => void shutdown('stdin error'));
  process.stdin.resume();
}

try {
  const t0 = Date.now();
  db = await PGlite.create(dataDir, {
    // No `database` option: PGlite's fresh initdb always opens template1 and only honours
    // another name when it reopens an existing data dir, so a name other than the default
    // would make data written in the first run vanish in the next. Whatever database the
    // client names in its startup message is ignored: current_database() is 'template1'.
    extensions: { timescaledb },
    debug: debug ? 1 : 0,
  });
  // PGlite has no shared_preload_libraries: load TimescaleDB's loader into the (single,
  // shared) backend at start, as a preloading server would. Without it a reopened data
  // dir starts without TimescaleDB, and plain DML on a hypertable then fails with
  // "invalid INSERT on the root table of hypertable"; and smartpole's migrate, which
  // checks for the preloaded loader (its timescaledb.disable_load setting) before
  // CREATE EXTENSION, would take the server for one that lacks the preload.
  await db.exec("LOAD 'timescaledb'");
  await captureSessionSettings(db);
  log(`database ready (${dataDir}) in ${Date.now() - t0} ms`);
  installGuard(db);

  server = new PGLiteSocketServer({
    db,
    port,
    host: '127.0.0.1',
    maxConnections,
    debug,
  });
  let boundPort = port;
  server.addEventListener('listening', (event) => {
    boundPort = event.detail.port;
  });
  server.addEventListener('error', (event) => {
    log('socket server error:', event.detail);
  });
  await server.start();
  installFrontDoor(server, maxConnections);
  if (stopping) {
    // A signal arrived while starting: shutdown() is already running.
  } else {
    process.stdout.write(`READY ${boundPort}\n`);
  }
} catch (err) {
  log('failed to start:', err);
  process.exit(1);
}
