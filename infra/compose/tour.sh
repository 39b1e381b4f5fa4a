#!/usr/bin/env bash
# The README's tour as a script: every step's commands against a running stack, and a check of
# the outcome the README promises for each. CI runs it against `docker compose up`; it works the
# same against `pnpm stack up`.
#
#   bash infra/compose/tour.sh
#
# Ports come from the variables docker-compose.yml publishes them with (defaults: the README's).
# Ids that must be fresh (the limiter key, the ad) carry a run suffix so the tour can run again
# against the same stack.
# No `set -e`: a broken step is counted and reported, and the tour goes on to the next one.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../../scripts/toolchain.sh
source scripts/toolchain.sh   # Node 24: its global WebSocket is the chat step's client

S=http://127.0.0.1:${SDLAB_URL_SHORTENER_PORT:-8081}
L=http://127.0.0.1:${SDLAB_RATE_LIMITER_PORT:-8082}
C1=http://127.0.0.1:${SDLAB_CHAT_GATEWAY_PORT:-8083}
C2=http://127.0.0.1:${SDLAB_CHAT_GATEWAY_2_PORT:-8093}
A=http://127.0.0.1:${SDLAB_AD_CLICK_AGGREGATOR_PORT:-8084}
B=http://127.0.0.1:${SDLAB_TICKET_BOOKING_PORT:-8085}
RUN=$(date +%s)-$$
JSON='content-type: application/json'
failures=0

step() { printf '\n--- %s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
fail() { printf '  FAILED: %s\n' "$*" >&2; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...: the promise holds when the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
# poll SECONDS COMMAND...: a promise that holds "a few seconds later"
poll() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < deadline)) || return 1; sleep 1; done
}

step '1. URL shortener: cache-aside layers, stats from the click stream'
CODE=$(curl -s -XPOST "$S/api/links" -H "$JSON" -d '{"url":"https://example.com/tour"}' | jq -r .code)
echo "  code: $CODE"
check 'a 7-character code' test "${#CODE}" = 7
redirects=$(for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$S/$CODE"; done)
echo "$redirects" | sed 's/^/  /'
check 'three 302 redirects to the link' test "$(echo "$redirects" | grep -c '^302 https://example.com/tour$')" = 3
lookups=$(curl -s "$S/metrics" | grep '^sdlab_shortener_cache_lookups_total' || true)
echo "$lookups" | sed 's/^/  /'
check 'cache lookups counted per layer (LRU hits after the first)' grep -q 'layer="lru".*result="hit"' <<<"$lookups"
stats_ok() { curl -s "$S/api/links/$CODE/stats" | jq -e '.totalClicks >= 3 and .uniqueVisitors >= 1' >/dev/null; }
check 'stats count the three clicks (Kafka → worker)' poll 30 stats_ok
curl -s "$S/api/links/$CODE/stats" | sed 's/^/  /'; echo

step '2. Rate limiter: token bucket, capacity 100, cost 30'
results=$(for i in $(seq 1 5); do
  curl -s -XPOST "$L/v1/checks" -H "$JSON" -d "{\"key\":\"tour-$RUN\",\"rule\":\"bucket\",\"cost\":30}" \
    | jq -c '{allowed, remaining, retryAfterMs, source}'
done)
echo "$results" | sed 's/^/  /'
check 'three checks pass, the fourth is refused with retryAfterMs' \
  test "$(echo "$results" | jq -s -r 'map(.allowed) | tostring')" = '[true,true,true,false,false]'
check 'the refusal says when to retry' test "$(echo "$results" | sed -n 4p | jq '.retryAfterMs > 0')" = true
admits_again() {
  curl -s -XPOST "$L/v1/checks" -H "$JSON" -d "{\"key\":\"tour-$RUN\",\"rule\":\"bucket\",\"cost\":30}" | jq -e .allowed >/dev/null
}
check 'a few seconds later it admits again' poll 10 admits_again
check 'RateLimit-Policy and RateLimit headers' bash -c "curl -si -XPOST '$L/v1/checks' -H '$JSON' \
  -d '{\"key\":\"tour-h-$RUN\",\"rule\":\"bucket\",\"cost\":1}' | grep -qi '^ratelimit-policy:'"

step '3. Chat gateway: a message across two instances'
TA=$(curl -s -XPOST "$C1/tokens" -H "$JSON" -d '{"userId":"alice","deviceId":"phone"}' | jq -r .token)
TB=$(curl -s -XPOST "$C2/tokens" -H "$JSON" -d '{"userId":"bob","deviceId":"laptop"}' | jq -r .token)
CONV=$(curl -s -XPOST "$C1/conversations/direct" -H "authorization: Bearer $TA" -H "$JSON" -d '{"peerId":"bob"}' | jq -r .id)
bob_log=$(mktemp)
WS2=${C2/http/ws} timeout 20 node -e "const ws=new WebSocket(process.env.WS2+'/ws?access_token=$TB');
  ws.onmessage=(e)=>{console.log('bob <-', e.data); if (JSON.parse(e.data).type==='message') process.exit()}" >"$bob_log" &
bob=$!
sleep 1
WS1=${C1/http/ws} timeout 20 node -e "const ws=new WebSocket(process.env.WS1+'/ws?access_token=$TA');
  ws.onmessage=(e)=>{console.log('alice <-', e.data); const f=JSON.parse(e.data);
    if (f.type==='hello') ws.send(JSON.stringify({v:1,type:'send',conversationId:'$CONV',clientMsgId:'tour-$RUN',text:'hi bob'}));
    if (f.type==='ack') setTimeout(()=>process.exit(), 500)}" | sed 's/^/  /'
wait "$bob" || true
sed 's/^/  /' "$bob_log"
check "bob (instance 2) got alice's message (instance 1) through Redis pub/sub" grep -q '"hi bob"' "$bob_log"
rm -f "$bob_log"
history=$(curl -s "$C1/conversations/$CONV/messages?limit=5" -H "authorization: Bearer $TA" | jq -c '.messages[]|{seq,text}')
echo "$history" | sed 's/^/  /'
check 'the message is stored with its sequence number' grep -q '"text":"hi bob"' <<<"$history"

step '4. Ad click aggregator: exactly one click counted in its minute'
AD=tour-ad-$RUN
T=$(cd services/ad-click-aggregator && node --conditions=@sdlab/source -e \
  "import('@sdlab/service-kit/auth').then(async (a) => console.log(await a.devToken('sdlab-ads', ['advertiser'])))")
AUTH="authorization: Bearer $T"
curl -s -XPOST "$A/ads" -H "$AUTH" -H "$JSON" -d "{\"adId\":\"$AD\",\"campaignId\":\"tour\",\"targetUrl\":\"https://shop.example.com/sale\"}" >/dev/null
URL=$(curl -s -XPOST "$A/ads/$AD/impressions" -H "$AUTH" -H "$JSON" -d '{"count":1}' | jq -r '.impressions[0].clickUrl')
first=$(curl -si "$A$URL" | tr -d '\r' | grep -i '^location\|^x-click-outcome')
second=$(curl -si "$A$URL" | tr -d '\r' | grep -i '^x-click-outcome')
printf '  %s\n' "$first" "$second"
check 'the first click is recorded and redirected' grep -qi '^x-click-outcome: recorded' <<<"$first"
check 'the second is a duplicate (Redis SET NX)' grep -qi '^x-click-outcome: duplicate' <<<"$second"
counted() {
  curl -s "$A/ads/$AD/clicks?granularity=minute&from=$(date -u -d '-1 hour' +%FT%TZ)&to=$(date -u -d '+1 hour' +%FT%TZ)" \
    -H "$AUTH" | jq -e '[.buckets[] | select(.clicks > 0)] | length == 1 and .[0].clicks == 1' >/dev/null
}
check 'one click in its minute after a flush' poll 60 counted

step '5. Ticket booking: search, holds, contention, idempotent purchase'
T='pnpm --silent --filter @sdlab/ticket-booking run token'   # development access tokens
ADMIN="authorization: Bearer $($T ops --admin)"; ALICE="authorization: Bearer $($T alice)"; BOB="authorization: Bearer $($T bob)"
V=$(curl -s -XPOST "$B/admin/venues" -H "$ADMIN" -H "$JSON" \
  -d '{"name":"Zenith","city":"Paris","sections":[{"name":"Floor","rows":5,"seatsPerRow":10}]}' | jq -r .id)
E=$(curl -s -XPOST "$B/admin/events" -H "$ADMIN" -H "$JSON" -d "{\"venueId\":\"$V\",
  \"name\":\"Daft Punk Live\",\"performer\":\"Daft Punk\",\"category\":\"concert\",
  \"startsAt\":\"2031-06-01T20:00:00Z\",\"defaultPriceCents\":4900}" | jq -r .id)
found() { curl -s "$B/events/search?q=daft%20pnuk&city=paris" | jq -e --arg e "$E" '[.data[] | select(.id == $e)] | length == 1' >/dev/null; }
check 'search finds the event despite the typo' poll 30 found
SEAT=$(curl -s "$B/events/$E/seats?limit=1&status=AVAILABLE" | jq -r '.data[0].id')
H=$(curl -s -XPOST "$B/events/$E/holds" -H "$ALICE" -H "$JSON" -d "{\"seatIds\":[$SEAT]}" | jq -r .hold.id)
check "alice holds seat $SEAT" test -n "$H" -a "$H" != null
taken=$(curl -s -XPOST "$B/events/$E/holds" -H "$BOB" -H "$JSON" -d "{\"seatIds\":[$SEAT]}" | jq -c '{status, code, takenSeatIds}')
echo "  bob: $taken"
check 'bob is refused with 409 and the taken seat' test "$(jq -r '.status' <<<"$taken")" = 409
p1=$(curl -s -XPOST "$B/holds/$H/purchase" -H "$ALICE" -H "idempotency-key: tour-$H" -H "$JSON" -d '{"paymentMethod":"pm_card_approved"}' | jq -c '{id, status, paymentId}')
p2=$(curl -s -XPOST "$B/holds/$H/purchase" -H "$ALICE" -H "idempotency-key: tour-$H" -H "$JSON" -d '{"paymentMethod":"pm_card_approved"}' | jq -c '{id, status, paymentId}')
printf '  %s\n' "$p1" "$p2"
check 'the purchase has a payment' test -n "$(jq -r '.paymentId // empty' <<<"$p1" 2>/dev/null)"
check 'the same Idempotency-Key gives the same purchase and payment' test -n "$p1" -a "$p1" = "$p2"
check 'the seed put events in search (suggest "the")' \
  bash -c "set -o pipefail; curl -fs '$B/events/suggest?q=the' | jq -e '.data | length > 0' >/dev/null"

printf '\ntour: %s\n' "$([[ $failures == 0 ]] && echo 'every promise held' || echo "$failures promise(s) broken")"
exit $((failures > 0))
