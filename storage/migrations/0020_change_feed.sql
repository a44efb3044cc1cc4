-- The post-commit change feed (a transactional outbox): one entry per committed
-- ingest batch and family, written in the batch's own transaction, naming what
-- it stored (pole, connector, device time of each reading: the keys of the
-- stored rows), and one per registry change. Read it with
-- storage.change_feed.read_changes (see there for why the position is the
-- writing transaction's id and not a sequence).
CREATE TABLE change_feed (
    xid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    kind          text NOT NULL,          -- a family (env, light, wifi, ev, status) or registry
    pole_ids      text[] NOT NULL,
    connector_ids smallint[],             -- ev: the connector of each reading
    observed_ats  timestamptz[],          -- readings: the device time of each
    PRIMARY KEY (xid, seq)
);
CREATE INDEX change_feed_created_at_idx ON change_feed (created_at);
