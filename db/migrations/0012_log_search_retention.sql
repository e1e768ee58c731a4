-- Log search across runs (GET /api/v1/logs/search, docs/search.md) and log
-- retention (GITWEAVE_LOG_RETENTION_DAYS, docs/retention.md).
--
-- Search uses a trigram index (pg_trgm, shipped with Postgres's contrib)
-- on each stored chunk. A line may be cut between two chunks (chunks are
-- cut at a size or a time bound, not at line ends), so each chunk also
-- carries the unfinished line that precedes it (`carry`, at most 1,024
-- characters of it) and the number of its first line (`line`). Both are
-- set here, by a trigger, from the job's previous chunk, so that every
-- writer of logs stores them the same way and the writer's statement stays
-- as it was. The index is on carry || chunk: a line that crosses a
-- boundary is found in the chunk where it ends, and only there.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- btree_gin: the time of a chunk in the same GIN index as its trigrams.
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE logs ADD COLUMN line integer NOT NULL DEFAULT 1,
                 ADD COLUMN carry text NOT NULL DEFAULT '';

-- Existing logs: each chunk's first line number and carry from the chunk
-- before it (the carry of a chunk without any newline does not reach
-- further back here; new chunks chain it, see the trigger).
WITH c AS (
    SELECT l.id,
           1 + coalesce(sum(length(l.chunk) - length(replace(l.chunk, E'\n', '')))
                 OVER (PARTITION BY l.job_id ORDER BY l."offset"
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS line,
           lag(l.chunk) OVER (PARTITION BY l.job_id ORDER BY l."offset") AS prev
      FROM logs l)
UPDATE logs l SET line = c.line,
       carry = CASE WHEN c.prev IS NULL THEN ''
                    WHEN strpos(c.prev, E'\n') = 0 THEN right(c.prev, 1024)
                    ELSE right(c.prev, least(strpos(reverse(c.prev), E'\n') - 1, 1024)) END
  FROM c WHERE c.id = l.id;

-- Set line and carry of a new chunk from the job's chunk before it. The
-- worker writes a job's chunks in order, one statement after another (or
-- several rows of one statement, which see each other here).
CREATE FUNCTION gitweave_logs_lines() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    tail text;
BEGIN
    SELECT l.line, l.carry, l.chunk INTO p FROM logs l
     WHERE l.job_id = NEW.job_id AND l."offset" < NEW."offset"
     ORDER BY l."offset" DESC LIMIT 1;
    IF NOT FOUND THEN
        NEW.line := 1;
        NEW.carry := '';
        RETURN NEW;
    END IF;
    -- Byte counts and a split at the last newline: no pass that decodes
    -- characters over the whole chunk.
    NEW.line := p.line + octet_length(p.chunk) - octet_length(replace(p.chunk, E'\n', ''));
    tail := split_part(p.chunk, E'\n', -1);
    IF octet_length(tail) = octet_length(p.chunk) THEN
        NEW.carry := right(p.carry || p.chunk, 1024);
    ELSE
        NEW.carry := right(tail, 1024);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER logs_lines BEFORE INSERT ON logs
    FOR EACH ROW EXECUTE FUNCTION gitweave_logs_lines();

-- In the "C" collation, so that the recheck of a candidate folds the case
-- of ASCII letters only: ILIKE in the database's collation lowers every
-- character of a 64 KiB chunk first, several times slower.
-- With created_at as its first column, so that a search in a window of
-- time reads the candidates of that window only (a separate index on
-- created_at would be chosen alone by the planner, which counts no cost
-- for reading chunks, and every chunk of the window read).
CREATE INDEX logs_search_idx ON logs
    USING gin (created_at, ((carry || chunk) COLLATE "C") gin_trgm_ops);
-- Search walks history in the order chunks were stored: on an expression,
-- so that only the walk uses it (see above).
CREATE INDEX logs_created_at_idx ON logs ((created_at AT TIME ZONE 'UTC'));

-- text cut to at most n bytes, on a character boundary.
CREATE FUNCTION gitweave_cut(t text, n integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN octet_length(t) <= n THEN t ELSE
        (SELECT convert_from(substring(b FROM 1 FOR k), 'UTF8')
           FROM (SELECT convert_to(t, 'UTF8') AS b) x,
                LATERAL (SELECT max(k) AS k FROM generate_series(greatest(n - 3, 0), n) k
                          WHERE get_byte(b, k) & 192 <> 128) y) END
$$;

-- The time of the first and of the last chunk stored (by the index).
CREATE FUNCTION gitweave_logs_first() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT created_at FROM logs ORDER BY created_at AT TIME ZONE 'UTC' LIMIT 1
$$;
CREATE FUNCTION gitweave_logs_last() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT created_at FROM logs ORDER BY created_at AT TIME ZONE 'UTC' DESC LIMIT 1
$$;

-- The lines of a chunk that the chunk answers for: every line that ends in
-- it (its newline is in the chunk), and its unfinished last line when it
-- is the last chunk of the job so far. k counts lines from the one the
-- chunk starts in (0), pos is the byte position of the line's start in
-- carry || chunk.
CREATE FUNCTION gitweave_log_lines(carry text, chunk text, is_last boolean)
RETURNS TABLE (k integer, pos integer, text text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT s.k, s.pos, s.seg FROM (
        SELECT (n - 1)::integer AS k, seg,
               (sum(octet_length(seg) + 1) OVER (ORDER BY n) - octet_length(seg) - 1)::integer AS pos,
               n = count(*) OVER () AS final
          FROM string_to_table(carry || chunk, E'\n') WITH ORDINALITY AS t(seg, n)) s
     WHERE NOT s.final OR (is_last AND s.seg <> '')
$$;

-- The LIKE pattern of a literal substring; with ascii, each character
-- beyond ASCII is any one character (for the "C" collation, in which
-- ILIKE folds the case of ASCII letters only: a superset of the matches).
CREATE FUNCTION gitweave_like_pattern(q text, ascii boolean) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT '%' || CASE WHEN ascii THEN regexp_replace(e, '[^\x01-\x7f]', '_', 'g') ELSE e END || '%'
      FROM (SELECT replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') AS e) x
$$;

/*
 * Search the logs: the lines that hold q (a literal substring without
 * regard to case, or with is_re a regular expression, matched the same
 * way), newest first or oldest first by the time their chunk was stored,
 * after a cursor (the key of the last line of the previous page: chunk
 * time, job, chunk offset, line number), at most lim lines. One row per
 * line: the chunk's key and the line's number, and the match as JSON.
 *
 * A trigram index finds a rare string at once but cannot give matches in
 * order, and a common string has more candidates than can be read. So:
 * 1. the next 64 chunks in order are read one by one (a string in every
 *    run fills its page there, reading few chunks);
 * 2. up to 64 matches of the rest are counted through the index: none
 *    ends the search; fewer than 64 (a rare string) are read at once;
 * 3. else (a common string) the time of the first match is narrowed down
 *    by halving the rest ten times (each half asked whether it holds any
 *    match: the index, and a recheck that stops at the first), then the
 *    page is read in windows of time from there, each asked of the
 *    search index by time and trigrams at once, so that only
 *    the candidates of one window are read and sorted.
 */
CREATE FUNCTION gitweave_log_search(q text, is_re boolean, newest boolean, lim integer,
    f_repo text, f_template text, f_status text, f_ref text,
    f_since timestamptz, f_until timestamptz,
    c_at timestamptz, c_job uuid, c_offset integer, c_line integer)
RETURNS TABLE (at timestamptz, job_id uuid, chunk_offset integer, line integer, match text)
-- The planner counts no cost for reading a chunk out of line (TOAST): left
-- alone, it reads every chunk of a small table rather than use the index.
LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $fn$
DECLARE
    op text := CASE WHEN is_re THEN '~*' ELSE '~~*' END;
    -- The test of a line ($2), and of a chunk in the index's collation ($16).
    pat text := CASE WHEN is_re THEN '(?n)' || q ELSE gitweave_like_pattern(q, false) END;
    cpat text := CASE WHEN is_re THEN '(?n)' || q ELSE gitweave_like_pattern(q, true) END;
    lpat text := CASE WHEN is_re THEN ' COLLATE "C"' ELSE '' END;
    cmp text := CASE WHEN newest THEN '<' ELSE '>' END;
    dir text := CASE WHEN newest THEN 'DESC' ELSE 'ASC' END;
    tail text;   -- turns the chunks c into the lines that match, in order
    rest text;   -- the chunks after the key ($9, $10, $11) that may match, ($14, $15) in time
    rest_all text;
    rec record;
    k_at timestamptz;
    k_job uuid;
    k_off integer;
    nfound integer := 0;
    n integer;
    walked integer := 0;
    lo timestamptz;
    hi timestamptz;
    mid timestamptz;
    step interval;
    hit boolean;
BEGIN
    tail := format($q$
        SELECT c.created_at, c.job_id, c."offset", c.line + s.k,
               json_build_object('run', r.id, 'job', j.id, 'job_name', j.name,
                 'repo', p.name, 'template', t.name, 'ref', r.ref, 'status', r.status,
                 'run_created_at', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                 'at', to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                 'line', c.line + s.k,
                 'offset', c."offset" - octet_length(c.carry) + s.pos,
                 'text', gitweave_cut(left(s.text, 1024), 1024),
                 'truncated', octet_length(s.text) > 1024)::text
          FROM c
          JOIN jobs j ON j.id = c.job_id
          JOIN pipeline_runs r ON r.id = j.run_id
          JOIN repos p ON p.id = r.repo_id
          JOIN templates t ON t.id = r.template_id
          CROSS JOIN LATERAL gitweave_log_lines(c.carry, c.chunk,
              NOT EXISTS (SELECT 1 FROM logs nx WHERE nx.job_id = c.job_id
                           AND nx."offset" = c."offset" + octet_length(c.chunk))) s
         WHERE ($3::text IS NULL OR p.name = $3) AND ($4::text IS NULL OR t.name = $4)
           AND ($5::text IS NULL OR r.status::text = $5) AND ($6::text IS NULL OR r.ref = $6)
           AND s.text%4$s %1$s $2
           AND ($9::timestamptz IS NULL
                OR (c.created_at, c.job_id, c."offset", c.line + s.k) %2$s ($9, $10, $11, $12))
         ORDER BY c.created_at %3$s, c.job_id %3$s, c."offset" %3$s, s.k %3$s
         LIMIT $13$q$, op, cmp, dir, lpat);
    rest := format($q$
        SELECT l.* FROM logs l
         WHERE ((l.carry || l.chunk) COLLATE "C") %1$s $16
           AND l.created_at >= $14 AND l.created_at < $15
           AND (l.created_at, l.job_id, l."offset") %2$s ($9, $10, $11)$q$, op, cmp);
    -- The same over all the rest, with time bounds that the index on
    -- created_at cannot serve: the planner, blind to the cost of reading
    -- chunks, would walk all of it by that index and read every chunk;
    -- the trigram index reads the candidates only.
    rest_all := replace(replace(rest, 'l.created_at >= $14', 'l.created_at + interval ''0 s'' >= $14'),
                        'l.created_at < $15', 'l.created_at + interval ''0 s'' < $15');

    -- 1. The next chunks in order, one by one.
    FOR rec IN EXECUTE format($q$
        SELECT l.created_at, l.job_id, l."offset", ((l.carry || l.chunk) COLLATE "C") %3$s $16 AS hit
          FROM logs l
         WHERE ($7::timestamptz IS NULL OR l.created_at >= $7)
           AND ($8::timestamptz IS NULL OR l.created_at < $8)
           AND ($9::timestamptz IS NULL OR (l.created_at, l.job_id, l."offset") %1$s= ($9, $10, $11))
           AND ($9::timestamptz IS NULL OR (l.created_at AT TIME ZONE 'UTC') %1$s= ($9 AT TIME ZONE 'UTC'))
         ORDER BY (l.created_at AT TIME ZONE 'UTC') %2$s, l.job_id %2$s, l."offset" %2$s LIMIT 64$q$,
        cmp, dir, op)
      USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until, c_at, c_job, c_offset,
            c_line, lim, lo, hi, cpat
    LOOP
        walked := walked + 1;
        k_at := rec.created_at;
        k_job := rec.job_id;
        k_off := rec."offset";
        CONTINUE WHEN NOT rec.hit;
        RETURN QUERY EXECUTE
            'WITH c AS (SELECT * FROM logs WHERE job_id = $17 AND "offset" = $18)' || tail
          USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until,
                c_at, c_job, c_offset, c_line, lim - nfound, lo, hi, cpat, k_job, k_off;
        GET DIAGNOSTICS n = ROW_COUNT;
        nfound := nfound + n;
        IF nfound >= lim THEN
            RETURN;
        END IF;
    END LOOP;
    IF walked < 64 THEN
        RETURN;
    END IF;

    -- The rest: after the last chunk read, within since and until. The
    -- line of the cursor no longer matters: -1 (newest) or the greatest.
    lo := coalesce(f_since, '-infinity');
    hi := coalesce(f_until, 'infinity');
    IF newest THEN hi := k_at + interval '1 microsecond'; ELSE lo := k_at; END IF;
    -- 2. Count up to 64 matching chunks.
    EXECUTE 'SELECT count(*) FROM (' || rest_all || ' LIMIT 64) x' INTO n
      USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until,
            k_at, k_job, k_off, c_line, lim, lo, hi, cpat;
    IF n = 0 THEN
        RETURN;
    END IF;
    IF n >= 64 THEN
        -- 3. Narrow down the time of the first match: [lo, hi) holds one.
        IF lo = '-infinity' THEN lo := gitweave_logs_first(); END IF;
        IF hi = 'infinity' THEN hi := gitweave_logs_last() + interval '1 microsecond'; END IF;
        FOR i IN 1..10 LOOP
            mid := lo + (hi - lo) / 2;
            IF newest THEN
                EXECUTE 'SELECT EXISTS (' || rest || ')' INTO hit
                  USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until,
                        k_at, k_job, k_off, c_line, lim, mid, hi, cpat;
                IF hit THEN lo := mid; ELSE hi := mid; END IF;
            ELSE
                EXECUTE 'SELECT EXISTS (' || rest || ')' INTO hit
                  USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until,
                        k_at, k_job, k_off, c_line, lim, lo, mid, cpat;
                IF hit THEN hi := mid; ELSE lo := mid; END IF;
            END IF;
        END LOOP;
        step := hi - lo;
    ELSE
        step := NULL;   -- one window: the whole rest
    END IF;
    -- Windows from the first match on, each twice as long as the last.
    LOOP
        IF step IS NOT NULL THEN
            IF newest THEN lo := hi - step; ELSE hi := lo + step; END IF;
        END IF;
        RETURN QUERY EXECUTE 'WITH c AS MATERIALIZED ('
            || CASE WHEN step IS NULL THEN rest_all ELSE rest END || ')' || tail
          USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until,
                k_at, k_job, k_off, CASE WHEN newest THEN -1 ELSE 2147483647 END,
                lim - nfound, lo, hi, cpat;
        GET DIAGNOSTICS n = ROW_COUNT;
        nfound := nfound + n;
        EXIT WHEN nfound >= lim OR step IS NULL;
        -- The next window: from where this one ended (its key is before,
        -- or after, every chunk stored at that time).
        IF newest THEN
            hi := lo;
            k_at := lo; k_job := '00000000-0000-0000-0000-000000000000'; k_off := -1;
            EXIT WHEN lo <= coalesce(f_since, gitweave_logs_first());
        ELSE
            lo := hi;
            k_at := hi; k_job := '00000000-0000-0000-0000-000000000000'; k_off := -1;
            EXIT WHEN hi > coalesce(f_until, gitweave_logs_last());
        END IF;
        step := step * 2;
    END LOOP;
END $fn$;

-- Why the arguments of a search cannot be used, before it runs: a time
-- that is not one (field 'since' or 'until'), or a regular expression
-- that Postgres refuses (field 're'); no row when all are fine.
CREATE FUNCTION gitweave_search_check(re text, since text, until text)
RETURNS TABLE (field text, message text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    BEGIN
        PERFORM since::timestamptz;
    EXCEPTION WHEN others THEN
        field := 'since'; message := SQLERRM; RETURN NEXT; RETURN;
    END;
    BEGIN
        PERFORM until::timestamptz;
    EXCEPTION WHEN others THEN
        field := 'until'; message := SQLERRM; RETURN NEXT; RETURN;
    END;
    IF re IS NOT NULL THEN
        BEGIN
            PERFORM '' ~* re;
        EXCEPTION WHEN invalid_regular_expression THEN
            field := 're'; message := SQLERRM; RETURN NEXT; RETURN;
        END;
    END IF;
END $$;

-- ---- Retention (docs/retention.md) ----
--
-- GITWEAVE_LOG_RETENTION_DAYS, or a repo's own log_retention_days (0:
-- keep forever), removes the logs of runs that ended longer ago than
-- that. The run and its jobs stay, marked: logs_expired_at, and the days
-- that applied. A worker marks a batch of runs, then removes their chunks
-- a few hundred at a time (worker/retention.c); logs_removed says that
-- none is left.

ALTER TABLE repos ADD COLUMN log_retention_days integer CHECK (log_retention_days >= 0);
ALTER TABLE pipeline_runs ADD COLUMN logs_expired_at timestamptz,
                          ADD COLUMN logs_expired_days integer,
                          ADD COLUMN logs_removed boolean NOT NULL DEFAULT false;

-- The runs whose logs may expire, oldest first; and those whose chunks
-- are still being removed.
CREATE INDEX pipeline_runs_expiry_idx ON pipeline_runs (ended_at)
    WHERE logs_expired_at IS NULL AND status IN ('success', 'failed', 'canceled');
CREATE INDEX pipeline_runs_removing_idx ON pipeline_runs (logs_expired_at)
    WHERE logs_expired_at IS NOT NULL AND NOT logs_removed;

-- For psql users: what the logs of each repo take (a full read of the
-- logs table: a report, not a metric).
CREATE VIEW log_sizes AS
SELECT p.name AS repo,
       count(DISTINCT r.id) AS runs,
       count(l.id) AS chunks,
       coalesce(sum(octet_length(l.chunk)), 0) AS bytes,
       pg_size_pretty(coalesce(sum(octet_length(l.chunk)), 0)) AS size,
       min(l.created_at) AS oldest,
       p.log_retention_days AS retention_days
  FROM repos p
  JOIN pipeline_runs r ON r.repo_id = p.id
  JOIN jobs j ON j.run_id = r.id
  LEFT JOIN logs l ON l.job_id = j.id
 GROUP BY p.name, p.log_retention_days
 ORDER BY bytes DESC;

-- The storage figures of /metrics (docs/metrics.md), from the catalog:
-- a scrape never reads the logs themselves.
CREATE VIEW log_storage_samples AS
SELECT 'gitweave_log_stored_bytes' AS family, 'gitweave_log_stored_bytes' AS sample, '' AS labels,
       pg_table_size('logs')::float8 AS value
UNION ALL
SELECT 'gitweave_log_stored_rows', 'gitweave_log_stored_rows', '',
       greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'logs'::regclass
UNION ALL
SELECT 'gitweave_log_search_index_bytes', 'gitweave_log_search_index_bytes', '',
       pg_relation_size('logs_search_idx')::float8;
