-- The quarantine becomes repairable (`smartpole quarantine`): each row gets
-- the kind of its reason (models.wire.RejectionKind, a closed vocabulary to
-- filter and replay by) and whether its payload was cut to its first 4 KiB
-- (never replayable). Rows written before this migration are classified once,
-- from the reason texts the decoder wrote up to now; the writer sets both
-- columns from here on.
ALTER TABLE quarantine
    ADD COLUMN reason_kind text,
    ADD COLUMN payload_truncated boolean NOT NULL DEFAULT false;

UPDATE quarantine SET
    reason_kind = CASE
        WHEN reason LIKE 'topic: %' THEN 'topic'
        WHEN reason LIKE 'payload too large:%' THEN 'too_large'
        WHEN reason LIKE 'malformed JSON:%' THEN 'malformed_json'
        WHEN reason LIKE 'payload must be %' OR reason ~ '^(item [0-9]+: )?a reading must be '
            THEN 'not_a_reading'
        WHEN reason LIKE 'pole % was decommissioned at %' THEN 'decommissioned'
        WHEN reason LIKE 'storage refused:%' THEN 'storage_refused'
        WHEN reason LIKE 'internal error while decoding:%' THEN 'internal_error'
        ELSE 'invalid_reading'
    END,
    -- Kept prefixes were cut at exactly 4096 bytes: one that long may have been longer.
    payload_truncated = reason LIKE 'payload too large:%'
        OR (octet_length(payload) = 4096
            AND (reason LIKE 'topic: %' OR reason LIKE 'internal error while decoding:%'));

ALTER TABLE quarantine ALTER COLUMN reason_kind SET NOT NULL;
CREATE INDEX quarantine_kind_received_at_idx ON quarantine (reason_kind, received_at);
