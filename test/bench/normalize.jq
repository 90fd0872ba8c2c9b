# normalize.jq: raw.v1 NDJSON -> UnifiedEvent v1 NDJSON, for `jq -c -f`.
#
# A jq baseline for the benchmark (make bench), the same mapping as
# tt-normalize and normalize.js, with one deliberate difference: jq has no
# sha256, so eventId is always the empty string "" (which the schema rejects;
# compare the rest with `del(.eventId)`).
#
# jq holds every number as a double: integers in `data` beyond 2^53 lose
# precision (ids in the proto3 JSON mapping are strings, so real input is
# unaffected).

def isobj: type == "object";

# A count: a JSON integer, or a digit string (proto3 JSON writes int64 so).
def int:
  if type == "number" then .
  elif type == "string" and test("^-?[0-9]+$") then tonumber
  else null end;

# An id: kept as a decimal string.
def id:
  if type == "string" then .
  elif type == "number" then tostring
  else null end;

# Adds member $k unless $v is null.
def put($k; $v): if $v == null then . else . + {($k): $v} end;

def obj: if isobj then . else {} end;
def arr: if type == "array" then . else [] end;

def displaykey: (.common | obj | .displayText | obj | .key);

def user:
  . as $d
  | ($d.user) as $u
  | ($u.followInfo | obj | .followStatus | int) as $role
  | ($u.badgeList | arr | map(select(isobj))) as $b
  | ($d.userIdentity | obj) as $ui
  | ($b | map(select((.sceneType | int) == 8)) | .[0]) as $grade
  | {
      userId: (($u.id // $u.userId // $u.idStr) | id),
      uniqueId: ($u.displayId // $u.uniqueId),
      nickname: $u.nickname,
      avatarUrl: (($u.avatarThumb | obj | .urlList | arr | .[0]) // $u.profilePictureUrl)
    }
  | if $role != null then .followRole = $role | .isFollower = ($role >= 1) else . end
  | .isModerator = (($u.userAttr | obj | .isAdmin) == true
      or $ui.isModeratorOfAnchor == true
      or any($b[]; (.sceneType | int) == 1)
      or $u.isModerator == true)
  | .isSubscriber = ($ui.isSubscriberOfAnchor == true
      or any($b[]; (.sceneType | int) as $s | $s == 4 or $s == 7)
      or $u.isSubscriber == true)
  | put("gifterLevel"; ($grade | obj | .privilegeLogExtra | obj | .level | int));

def rawof($type; $d):
  {rawType: $type} | put("displayType"; ($d | displaykey));

def chat:
  . as $d
  | {text: ($d.content // $d.comment // "")}
  | if ($d.contentLanguage | type) == "string" and $d.contentLanguage != ""
    then .language = $d.contentLanguage else . end
  | if ($d.emotes | arr | length) > 0
    then .emotes = [$d.emotes[] | select(isobj) | . as $em
                    | {emoteId: (.emote | obj | .emoteId)} + ({} | put("index"; ($em.index | int)))]
    else . end
  | ["CHAT", .];

def gift:
  . as $d
  | ($d.gift | obj) as $g
  | ((($g.diamondCount // $d.diamondCount // 0) | int) // 0) as $diamonds
  | ((($d.repeatCount // 1) | int) // 1) as $repeat
  | ((($g.type // $d.giftType // 0) | int) // 0) as $type
  | ($type == 1) as $streakable
  | (($d.repeatEnd | int) == 1 or $d.repeatEnd == true) as $last
  | (($streakable and ($last | not)) | not) as $final
  | ($d.groupId | id) as $group
  | {
      giftId: (($d.giftId // $g.id) | id),
      giftName: ($g.name // $d.giftName),
      diamondCount: $diamonds,
      repeatCount: $repeat
    }
  | if $group != null and $group != "0" then .groupId = $group else . end
  | .giftType = $type
  | .streakable = $streakable
  | .repeatEnd = $last
  | .streakState = (if $final then "final" else "in_progress" end)
  | .giftCount = (if $final then $repeat else 0 end)
  | .coins = (if $final then $repeat * $diamonds else 0 end)
  | put("receiverUserId"; (($d.toUser | obj | .id) // ($d.monitorInfo | obj | .toUserId) | id))
  | ["GIFT", .];

def like:
  . as $d
  | {count: ((($d.count // $d.likeCount) | int) // 0)}
  | put("total"; (($d.total // $d.totalLikeCount) | int))
  | ["LIKE", .];

def member:
  . as $d
  | {} | put("memberCount"; ($d.memberCount | int)) | put("action"; ($d.action | int))
  | ["JOIN", .];

def social:
  . as $d
  | ($d.common | obj | .displayText | obj) as $dt
  | ($dt.key // $dt.displayType // $d.displayType) as $key
  | (if ($key | type) == "string" then $key else "" end) as $k
  | if ($k | contains("follow")) then "FOLLOW"
    elif ($k | contains("share")) then "SHARE"
    elif ($k | contains("subscribe")) then "SUBSCRIBE"
    else null end
  | . as $et
  | if $et == null then
      ["RAW", ({rawType: "WebcastSocialMessage"}
               | if ($key | type) == "string" then .displayType = $key else . end)]
    elif $et == "SUBSCRIBE" then
      ["SUBSCRIBE", {displayType: $k}]
    else
      [$et, ({displayType: $k}
             | put("followCount"; ($d.followCount | int))
             | put("shareCount"; ($d.shareCount | int))
             | if ($d.shareTarget | type) == "string" and $d.shareTarget != ""
               then .shareTarget = $d.shareTarget else . end
             | put("viewersJoined";
                   ([$k | capture("^pm_mt_guidance_viewer_(?<n>[0-9]+)_share$")] | .[0] | obj | .n | int)))]
    end;

# Only a subscription itself (messageType 0, or absent) is a SUBSCRIBE;
# reminders and sub-goal notices stay RAW.
def subnotify($type):
  . as $d
  | if ($d.messageType | int) as $mt | ($mt != null and $mt != 0) then ["RAW", rawof($type; $d)] else
  {} | put("subMonth"; ($d.subMonth | int))
  | put("subscribeType"; ($d.subscribeType | int))
  | put("displayType"; ($d | displaykey))
  | ["SUBSCRIBE", .] end;

def emote:
  ["EMOTE", {emotes: [.emoteList | arr | .[] | select(isobj)
                      | . as $em
                      | {emoteId: .emoteId} + ({} | put("imageUrl"; ($em.image | obj | .urlList | arr | .[0])))]}];

def battle($type):
  . as $d
  | (if $type == "WebcastLinkMicBattle" then ["battleResult", "score"]
     elif $type == "WebcastLinkMicArmies" then ["armies", "hostscore"]
     else null end) as $src
  | ({rawType: $type}
     | put("battleId"; ($d.battleId | id))
     | put("action"; ($d.action | int))
     | put("status"; ($d.battleSettings | obj | .status | int))
     | put("triggerReason"; ($d.triggerReason | int))
     | put("msgType"; ($d.msgType | int))
     | if $src != null and ($d[$src[0]] | isobj) then
         ([$d[$src[0]] | to_entries[]
           | {hostUserId: .key, points: (((.value | obj)[$src[1]] | int) // 0)}]) as $scores
         | if ($scores | length) > 0 then .scores = $scores else . end
       else . end)
  | ["BATTLE", .];

def roomuser:
  . as $d
  | {viewerCount: ((($d.total // $d.viewerCount) | int) // 0)}
  | put("totalUser"; ($d.totalUser | int))
  | ["ROOM_USER", .];

def control($type):
  (.action | int) as $a
  | if $a == 3 then ["STREAM_END", {action: 3, reason: "ended"}]
    elif $a == 4 then ["STREAM_END", {action: 4, reason: "suspended"}]
    else ["RAW", rawof($type; .)] end;

def lifecycle($et):
  . as $d
  | [$et, (reduce ("provider", "category", "code", "reason", "detail") as $k
             ({}; if ($d | isobj) then put($k; $d[$k]) else . end))];

# [eventType, payload]
def classify($type):
  if $type == "ControlEvent.CONNECTED" then lifecycle("CONNECTED")
  elif $type == "ControlEvent.DISCONNECTED" then lifecycle("DISCONNECTED")
  elif $type == "ControlEvent.ERROR" then lifecycle("ERROR")
  elif isobj | not then ["RAW", {rawType: $type}]
  elif $type == "WebcastChatMessage" then chat
  elif $type == "WebcastGiftMessage" then gift
  elif $type == "WebcastLikeMessage" then like
  elif $type == "WebcastMemberMessage" then member
  elif $type == "WebcastSocialMessage" then social
  elif $type == "WebcastSubNotifyMessage" then subnotify($type)
  elif $type == "WebcastEmoteChatMessage" then emote
  elif $type == "WebcastLinkMicBattle" or $type == "WebcastLinkMicArmies"
       or $type == "WebcastBarrageMessage" then battle($type)
  elif $type == "WebcastRoomUserSeqMessage" then roomuser
  elif $type == "WebcastControlMessage" then control($type)
  else ["RAW", rawof($type; .)] end;

select(isobj)
| . as $e
| ($e.data | classify($e.type)) as [$et, $payload]
| {
    schemaVersion: "unified-event.v1",
    eventId: "",
    eventType: $et,
    source: $e.source,
    streamId: $e.streamId,
    sessionId: $e.sessionId,
    seqNo: $e.seqNo,
    timestamp: $e.timestamp,
    ingestedAt: $e.ingestedAt
  }
| if ($e.data | isobj) and ($e.data.user | isobj) then .user = ($e.data | user) else . end
| .payload = $payload
| .raw = {type: $e.type, data: $e.data}
| . + ($e | with_entries(select(.key | startswith("_"))))
