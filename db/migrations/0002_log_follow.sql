-- Log follow: stored chunks announce themselves on their own channel, so
-- the API can push them to followers (GET /api/v1/jobs/{id}/logs as
-- Server-Sent Events) without polling. One notification per job per
-- statement, however many chunks the statement stored (the worker flushes
-- a batch at a time); next_offset is where the job's log now ends.
-- In the database rather than in the worker's statement so that every
-- writer of logs announces the same way.
CREATE FUNCTION gitweave_logs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gitweave_logs',
                      json_build_object('type', 'log', 'job_id', n.job_id,
                                        'next_offset', n.next_offset)::text)
       FROM (SELECT job_id, max("offset" + octet_length(chunk)) AS next_offset
               FROM new_rows GROUP BY job_id) n;
    RETURN NULL;
END
$$;

CREATE TRIGGER logs_notify AFTER INSERT ON logs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION gitweave_logs_notify();
