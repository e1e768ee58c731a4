# The gitweave client in a test: source after postgres.sh and gw_api_start.
# Points the client at the test's API with its token (GITWEAVE_API_TOKEN),
# without colour, and gives the helpers below.

GW=$GW_BUILD_DIR/gitweave
export GITWEAVE_URL=${API%/api/v1} GITWEAVE_TOKEN=$GITWEAVE_API_TOKEN NO_COLOR=1
# The test's own curl calls need the token too.
AUTH=(-H "Authorization: Bearer $GITWEAVE_API_TOKEN")

# gw ARGS...: run the client; stdout to $OUT, stderr to $ERR, status to $RC.
OUT=$GW_TMP/out ERR=$GW_TMP/err
# Every stderr is kept in client.log too: a sanitizer build's report there fails the test.
gw() { "$GW" "$@" >"$OUT" 2>"$ERR"; RC=$?; cat "$ERR" >>"$GW_TMP/client.log"; }
out() { cat "$OUT"; }
err() { cat "$ERR"; }
