-- Guards every tenant branch must have, re-applied (idempotently) after each migration so
-- that tables added by later migrations are covered without anyone remembering to.
-- Expects `homeroom.app_role` to be set in the session to the app role's name.

-- Keep updated_at and changed_xid current whatever writes the row (API, workers, loads).
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  NEW.changed_xid := pg_current_xact_id();
  RETURN NEW;
END;
$$;

-- For tables without updated_at: only the writer's transaction id.
CREATE OR REPLACE FUNCTION track_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_xid := pg_current_xact_id();
  RETURN NEW;
END;
$$;

-- Hard deletes leave a tombstone so incremental extraction can carry them.
CREATE OR REPLACE FUNCTION record_tombstone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO row_tombstones (tenant_id, table_name, row_id)
  VALUES (OLD.tenant_id, TG_TABLE_NAME, OLD.id);
  RETURN OLD;
END;
$$;

-- The audit tables are append-only for everyone but their owner.
CREATE OR REPLACE FUNCTION reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;

DO $guards$
DECLARE
  app_role text := current_setting('homeroom.app_role');
  t record;
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app_role);

  FOR t IN
    SELECT c.relname AS name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
      AND EXISTS (SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.name);
    IF NOT EXISTS (SELECT 1 FROM pg_policies
                   WHERE schemaname = 'public' AND tablename = t.name
                     AND policyname = 'tenant_isolation') THEN
      -- With no tenant set, current_setting(..., true) is NULL or '' and no row matches.
      EXECUTE format($p$
        CREATE POLICY tenant_isolation ON %I
          USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
          WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      $p$, t.name);
    END IF;

    IF t.name IN ('audit_log', 'record_access_log', 'row_tombstones') THEN
      EXECUTE format('GRANT SELECT, INSERT ON %I TO %I', t.name, app_role);
      EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM %I', t.name, app_role);
      IF NOT EXISTS (SELECT 1 FROM pg_trigger
                     WHERE tgrelid = format('%I', t.name)::regclass
                       AND tgname = 'append_only') THEN
        EXECUTE format('CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION reject_change()', t.name);
      END IF;
    ELSE
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', t.name, app_role);
    END IF;

    IF EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = format('%I', t.name)::regclass
                 AND a.attname = 'updated_at' AND NOT a.attisdropped) THEN
      IF NOT EXISTS (SELECT 1 FROM pg_trigger
                     WHERE tgrelid = format('%I', t.name)::regclass
                       AND tgname = 'set_updated_at') THEN
        EXECUTE format('CREATE TRIGGER set_updated_at BEFORE UPDATE ON %I
                        FOR EACH ROW EXECUTE FUNCTION set_updated_at()', t.name);
      END IF;
    ELSIF t.name NOT IN ('audit_log', 'record_access_log', 'row_tombstones')
          AND NOT EXISTS (SELECT 1 FROM pg_trigger
                          WHERE tgrelid = format('%I', t.name)::regclass
                            AND tgname = 'track_change') THEN
      EXECUTE format('CREATE TRIGGER track_change BEFORE UPDATE ON %I
                      FOR EACH ROW EXECUTE FUNCTION track_change()', t.name);
    END IF;

    -- Incremental extraction reads rows by writer transaction.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (tenant_id, changed_xid)',
                   t.name || '_changed_xid_idx', t.name);

    IF t.name NOT IN ('audit_log', 'record_access_log', 'row_tombstones')
       AND NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgrelid = format('%I', t.name)::regclass
                         AND tgname = 'tombstone') THEN
      EXECUTE format('CREATE TRIGGER tombstone AFTER DELETE ON %I
                      FOR EACH ROW EXECUTE FUNCTION record_tombstone()', t.name);
    END IF;
  END LOOP;
END
$guards$;
