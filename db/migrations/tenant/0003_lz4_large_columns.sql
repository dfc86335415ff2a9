-- Snapshot payloads and dashboard pages are rewritten on every refresh that changes them
-- (megabytes for a large tenant): lz4 compresses them several times faster than pglz.
-- A server built without lz4 keeps its default.
DO $$
BEGIN
	ALTER TABLE "metric_snapshots" ALTER COLUMN "payload" SET COMPRESSION lz4;
	ALTER TABLE "dashboard_pages" ALTER COLUMN "html" SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
	NULL;
END $$;
