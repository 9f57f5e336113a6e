-- GIN indexes for FerretDB v1's pushed-down equalities, applied by scripts/services.
--
-- FerretDB v1's PostgreSQL backend pushes an equality on a top-level field down as
-- `_jsonb -> 'field' @> value`, which none of the B-tree indexes it creates can serve: each
-- pushed-down query read its whole table, so every query slowed down as the database grew.
-- For each field that leads one of its B-tree indexes (`_id` among them), a GIN index on
-- the same expression serves `@>`. The planner matches an expression index only when it
-- sees the field's name, which FerretDB sends as a parameter: so the database plans every
-- statement with its parameters (plan_cache_mode). Only the database changes: MongoDB uses
-- the same declared indexes itself.
--
-- They keep no pending list (fastupdate = off): with one, GIN queues new entries there and
-- every scan reads all of them until a vacuum merges them in, so a query's cost grew with
-- the writes since the last vacuum (an idle round of the sweeps, which finds nothing,
-- took 9.3 ms after 25,000 bookings were written, 6.0 ms once the lists were merged).

SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION specialistly_gin_for(btree oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    target record;
    field text;
BEGIN
    SELECT n.nspname AS schema_name, t.relname AS table_name, am.amname AS method
    INTO target
    FROM pg_index i
    JOIN pg_class ix ON ix.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ix.relam
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE i.indexrelid = btree;
    IF NOT FOUND OR target.method <> 'btree' THEN
        RETURN;  -- a GIN index made here fires the trigger too
    END IF;
    field := substring(pg_get_indexdef(btree, 1, true) FROM '^\(_jsonb -> ''([^'']+)''::text\)$');
    IF field IS NULL THEN
        RETURN;  -- not one of FerretDB's
    END IF;
    EXECUTE format(
        'CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops)'
        ' WITH (fastupdate = off)',
        left(target.table_name, 40) || '_' || left(md5(field), 8) || '_gin',
        target.schema_name, target.table_name, field
    );
END
$$;

CREATE OR REPLACE FUNCTION specialistly_gin_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    made record;
BEGIN
    FOR made IN
        SELECT objid FROM pg_event_trigger_ddl_commands()
        WHERE command_tag = 'CREATE INDEX' AND object_type = 'index'
    LOOP
        PERFORM specialistly_gin_for(made.objid);
    END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS specialistly_gin_indexes;
CREATE EVENT TRIGGER specialistly_gin_indexes ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION specialistly_gin_on_create();

-- GIN indexes made before they kept no pending list.
DO $$
DECLARE
    made regclass;
BEGIN
    FOR made IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_am am ON am.oid = c.relam
        WHERE am.amname = 'gin' AND c.relname LIKE '%\_gin'
            AND NOT coalesce('fastupdate=off' = ANY (c.reloptions), false)
    LOOP
        EXECUTE format('ALTER INDEX %s SET (fastupdate = off)', made);
        PERFORM gin_clean_pending_list(made);
    END LOOP;
END
$$;

-- The indexes made before the trigger existed.
DO $$
DECLARE
    made record;
BEGIN
    FOR made IN
        SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relkind = 'r' AND t.relnamespace <> 'pg_catalog'::regnamespace
    LOOP
        PERFORM specialistly_gin_for(made.indexrelid);
    END LOOP;
END
$$;

ALTER DATABASE :"database" SET plan_cache_mode = force_custom_plan;

-- A document is one jsonb value, stored out of line (TOAST) once it is larger than about
-- 2 kB: a table of large documents (emails) is then a few pages, and the planner, which
-- counts pages, can find a sequential scan cheaper than the index while it actually
-- unpacks every document (8.8 ms a lookup by _id among 1,500 emails in a load run, against
-- 0.1 ms through the index). Every query the platform sends holds an equality on an
-- indexed field (tests/e2e/test_pushdown.py), so the index is the better way in; a query
-- that has none still reads its table in order.
ALTER DATABASE :"database" SET enable_seqscan = off;

-- A plan that reads a whole table (only a query without an indexed equality has one) then
-- costs more than 10^10, far past the cost at which PostgreSQL compiles a query with LLVM
-- (jit_above_cost, 10^5): a scan of a few hundred bookings took 30 ms that way (95 ms the
-- first time in a connection), against 1.3 ms without. The platform's queries are small
-- and many; none gains from compiling.
ALTER DATABASE :"database" SET jit = off;
