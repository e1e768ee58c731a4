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
    nl integer;
BEGIN
    SELECT l.line, l.carry, l.chunk INTO p FROM logs l
     WHERE l.job_id = NEW.job_id AND l."offset" < NEW."offset"
     ORDER BY l."offset" DESC LIMIT 1;
    IF NOT FOUND THEN
        NEW.line := 1;
        NEW.carry := '';
        RETURN NEW;
    END IF;
    NEW.line := p.line + length(p.chunk) - length(replace(p.chunk, E'\n', ''));
    nl := strpos(reverse(p.chunk), E'\n');
    IF nl = 0 THEN
        NEW.carry := right(p.carry || p.chunk, 1024);
    ELSE
        NEW.carry := right(p.chunk, least(nl - 1, 1024));
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER logs_lines BEFORE INSERT ON logs
    FOR EACH ROW EXECUTE FUNCTION gitweave_logs_lines();

CREATE INDEX logs_search_idx ON logs USING gin ((carry || chunk) gin_trgm_ops);
-- Search walks history in the order chunks were stored.
CREATE INDEX logs_created_at_idx ON logs (created_at);

-- text cut to at most n bytes, on a character boundary.
CREATE FUNCTION gitweave_cut(t text, n integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN octet_length(t) <= n THEN t ELSE
        (SELECT convert_from(substring(b FROM 1 FOR k), 'UTF8')
           FROM (SELECT convert_to(t, 'UTF8') AS b) x,
                LATERAL (SELECT max(k) AS k FROM generate_series(greatest(n - 3, 0), n) k
                          WHERE get_byte(b, k) & 192 <> 128) y) END
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

-- The LIKE pattern of a literal substring.
CREATE FUNCTION gitweave_like_pattern(q text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

/*
 * Search the logs: the lines that hold q (a literal substring without
 * regard to case, or with is_re a regular expression, matched the same
 * way), newest first or oldest first by the time their chunk was stored,
 * after a cursor (the key of the last line of the previous page: chunk
 * time, job, chunk offset, line number), at most lim lines. One row per
 * line: the chunk's key and the line's number, and the match as JSON.
 *
 * Two ways to walk, because a trigram index finds rare strings at once but
 * cannot give them in order: first the next 256 chunks in order are read
 * as they are (a string in every run fills the page there); then windows
 * of time, growing from 1/1024 of the history to at most 1/16 of it, each
 * asked of the trigram index together with the index on created_at, so
 * that only the candidates of one window are read and sorted.
 */
CREATE FUNCTION gitweave_log_search(q text, is_re boolean, newest boolean, lim integer,
    f_repo text, f_template text, f_status text, f_ref text,
    f_since timestamptz, f_until timestamptz,
    c_at timestamptz, c_job uuid, c_offset integer, c_line integer)
RETURNS TABLE (at timestamptz, job_id uuid, chunk_offset integer, line integer, match text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    op text := CASE WHEN is_re THEN '~*' ELSE '~~*' END;
    pat text := CASE WHEN is_re THEN '(?n)' || q ELSE gitweave_like_pattern(q) END;
    cmp text := CASE WHEN newest THEN '<' ELSE '>' END;
    dir text := CASE WHEN newest THEN 'DESC' ELSE 'ASC' END;
    -- The part that turns chunks c into the lines that match, in order.
    tail text;
    k_at timestamptz := c_at;
    k_job uuid := c_job;
    k_off integer := c_offset;
    k_line integer := c_line;
    nfound integer := 0;
    n integer;
    walked integer;
    lo timestamptz;
    hi timestamptz;
    first_at timestamptz;
    last_at timestamptz;
    step interval;
    max_step interval;
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
           AND s.text %1$s $2
           AND ($9::timestamptz IS NULL
                OR (c.created_at, c.job_id, c."offset", c.line + s.k) %2$s ($9, $10, $11, $12))
         ORDER BY c.created_at %3$s, c.job_id %3$s, c."offset" %3$s, s.k %3$s
         LIMIT $13$q$, op, cmp, dir);

    -- 1. The next chunks in order, read as they are.
    EXECUTE format($q$
        WITH w AS MATERIALIZED (
            SELECT l.* FROM logs l
             WHERE ($7::timestamptz IS NULL OR l.created_at >= $7)
               AND ($8::timestamptz IS NULL OR l.created_at < $8)
               AND ($9::timestamptz IS NULL OR (l.created_at, l.job_id, l."offset") %1$s= ($9, $10, $11))
             ORDER BY l.created_at %2$s, l.job_id %2$s, l."offset" %2$s LIMIT 256)
        SELECT count(*)::integer, min(created_at), max(created_at),
               (array_agg(created_at ORDER BY created_at %2$s, job_id %2$s, "offset" %2$s))[count(*)],
               (array_agg(job_id ORDER BY created_at %2$s, job_id %2$s, "offset" %2$s))[count(*)],
               (array_agg("offset" ORDER BY created_at %2$s, job_id %2$s, "offset" %2$s))[count(*)]
          FROM w$q$, cmp, dir)
      INTO walked, lo, hi, last_at, k_job, k_off
      USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until, c_at, c_job, c_offset;
    IF walked = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH w AS MATERIALIZED (
            SELECT l.* FROM logs l
             WHERE ($7::timestamptz IS NULL OR l.created_at >= $7)
               AND ($8::timestamptz IS NULL OR l.created_at < $8)
               AND ($9::timestamptz IS NULL OR (l.created_at, l.job_id, l."offset") %1$s= ($9, $10, $11))
             ORDER BY l.created_at %2$s, l.job_id %2$s, l."offset" %2$s LIMIT 256),
        c AS MATERIALIZED (SELECT * FROM w WHERE (w.carry || w.chunk) %3$s $2)
        $q$, cmp, dir, op) || tail
      USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until,
            c_at, c_job, c_offset, c_line, lim;
    GET DIAGNOSTICS n = ROW_COUNT;
    nfound := n;
    IF nfound >= lim OR walked < 256 THEN
        RETURN;
    END IF;

    -- 2. Windows of time, through the indexes, after the last chunk read:
    -- the key (k_at, k_job, k_off) is the last chunk already read.
    SELECT min(l.created_at), max(l.created_at) INTO first_at, hi FROM logs l;
    IF f_since IS NOT NULL AND f_since > first_at THEN first_at := f_since; END IF;
    IF f_until IS NOT NULL AND f_until < hi THEN hi := f_until; END IF;
    step := greatest((hi - first_at) / 1024, interval '1 millisecond');
    max_step := greatest((hi - first_at) / 16, interval '1 millisecond');
    k_at := last_at;
    LOOP
        IF newest THEN
            EXIT WHEN k_at < first_at;
            lo := k_at - step;
        ELSE
            EXIT WHEN k_at > hi;
            lo := k_at + step;
        END IF;
        RETURN QUERY EXECUTE format($q$
            WITH c AS MATERIALIZED (
                SELECT l.* FROM logs l
                 WHERE (l.carry || l.chunk) %1$s $2
                   AND ($7::timestamptz IS NULL OR l.created_at >= $7)
                   AND ($8::timestamptz IS NULL OR l.created_at < $8)
                   AND l.created_at %2$s $14
                   AND (l.created_at, l.job_id, l."offset") %3$s ($9, $10, $11))
            $q$, op, CASE WHEN newest THEN '>=' ELSE '<' END, cmp) || tail
          USING q, pat, f_repo, f_template, f_status, f_ref, f_since, f_until,
                k_at, k_job, k_off, CASE WHEN newest THEN -1 ELSE 2147483647 END,
                lim - nfound, lo;
        GET DIAGNOSTICS n = ROW_COUNT;
        nfound := nfound + n;
        EXIT WHEN nfound >= lim;
        -- The next window starts where this one ended: (lo, the least
        -- key) is before every chunk stored at lo and after every earlier.
        k_at := lo;
        k_job := '00000000-0000-0000-0000-000000000000'::uuid;
        k_off := -1;
        step := least(step * 2, max_step);
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
