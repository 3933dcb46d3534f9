"""Lua scripts: one script per registry operation, writing state and audit entry together.

Every script takes the twelve keys of one model (:class:`registry.keys.ModelKeys`, in field order,
all sharing the model's hash tag) and ``ARGV = [op_id, actor, reason, alert_id, ...]``.  A script
either changes nothing and returns ``{'error', code, ...}``, or applies every write and appends
exactly one entry to the model's history stream, returning ``{'ok', entry_id, ts, kind, version,
from_stage, to_stage, alias, previous_version, production, previous_production, forced, failures}``
(:data:`REPLY_FIELDS`).

``op_id`` makes a retried call idempotent: if one of the last :data:`OPS_KEPT` operations on the
model carried the same id (the reply was lost and the client retried, even after other writers
got in between), the script returns ``{'dup', entry_id}`` and changes nothing.

The allowed transitions and gated stages are compiled into the Lua source from
:mod:`registry.stages`, so Python and Lua cannot disagree.

Examples
--------
>>> print(lua_transition_table().split("},")[2])
production={deprecated=true
"""

from __future__ import annotations

from registry.stages import ALLOWED_TRANSITIONS, Stage

#: Operations remembered per model for idempotent retries.
OPS_KEPT = 64

#: Names of the values after ``'ok', entry_id`` in a successful script reply.
REPLY_FIELDS = ("ts", "kind", "version", "from_stage", "to_stage", "alias", "previous_version", "production",
                "previous_production", "forced", "failures")

__all__ = ["REPLY_FIELDS", "OPS_KEPT", "READ_BATCH", "REGISTER", "TRANSITION", "ROLLBACK", "ALIAS", "ACTIVE_REFERENCE",
           "lua_transition_table"]

_ORDER = [Stage.STAGING, Stage.PRODUCTION, Stage.DEVELOPMENT, Stage.DEPRECATED, Stage.ARCHIVED]


def lua_transition_table() -> str:
    """ALLOWED_TRANSITIONS as a Lua table literal."""
    parts = []
    for src in Stage:
        dests = ",".join(f"{d.value}=true" for d in _ORDER if d in ALLOWED_TRANSITIONS[src])
        parts.append(f"{src.value}={{{dests}}}")
    return "{" + ",".join(parts) + "}"


_PROLOGUE = """
local K_VERSIONS, K_STAGES, K_META, K_PREV, K_ALIASES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_HISTORY, K_GATE, K_EVALS, K_REFS, K_SNAPS = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_OPS, K_OP_ORDER = KEYS[11], KEYS[12]
local OP_ID, ACTOR, REASON, ALERT_ID = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ALLOWED = %(allowed)s

if OP_ID ~= '' then
  local done = redis.call('HGET', K_OPS, OP_ID)
  if done then return {'dup', done} end
end

-- Append the audit entry (the last write of every script) and return it to the caller.
local function audit(kind, version, from_stage, to_stage, alias, previous_version, previous_production,
                     forced, failures)
  local t = redis.call('TIME')
  local ts = t[1] .. '.' .. string.sub(tostring(1000000 + tonumber(t[2])), 2)
  local production = redis.call('HGET', K_META, 'production') or ''
  local fields = {
    'kind', kind, 'version', version, 'from_stage', from_stage, 'to_stage', to_stage,
    'alias', alias, 'previous_version', previous_version,
    'production', production,
    'previous_production', previous_production,
    'actor', ACTOR, 'reason', REASON, 'alert_id', ALERT_ID,
    'forced', forced, 'failures', failures, 'ts', ts, 'op_id', OP_ID,
  }
  local id = redis.call('XADD', K_HISTORY, '*', unpack(fields))
  if OP_ID ~= '' then
    redis.call('HSET', K_OPS, OP_ID, id)
    if redis.call('LPUSH', K_OP_ORDER, OP_ID) > %(ops_kept)d then
      redis.call('HDEL', K_OPS, redis.call('RPOP', K_OP_ORDER))
    end
  end
  -- the caller knows actor, reason, alert id and op id: reply with the rest only (short replies parse fast)
  return {'ok', id, ts, kind, version, from_stage, to_stage, alias, previous_version, production,
          previous_production, forced, failures}
end

local function push_previous(v)
  redis.call('LREM', K_PREV, 0, v)
  redis.call('RPUSH', K_PREV, v)
end
""" % {"allowed": lua_transition_table(), "ops_kept": OPS_KEPT}


REGISTER = _PROLOGUE + """
-- ARGV[5] version, ARGV[6] record JSON
local v = ARGV[5]
if redis.call('HEXISTS', K_VERSIONS, v) == 1 then return {'error', 'duplicate'} end
redis.call('HSET', K_VERSIONS, v, ARGV[6])
redis.call('HSET', K_STAGES, v, 'development')
local prod = redis.call('HGET', K_META, 'production') or ''
return audit('register', v, '', 'development', '', '', prod, '0', '')
"""


TRANSITION = _PROLOGUE + """
-- ARGV[5] version, ARGV[6] target stage, ARGV[7] force '1'/'0', ARGV[8] kind
local v, to, force, kind = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if redis.call('EXISTS', K_VERSIONS) == 0 then return {'error', 'model_not_found'} end
local from = redis.call('HGET', K_STAGES, v)
if not from then return {'error', 'version_not_found'} end
if not ALLOWED[from] or not ALLOWED[from][to] then return {'error', 'illegal', from, to} end

-- quality gate: {"thresholds": {metric: [op, x]}, "stages": [...]} vs evaluations[v].metrics
local failures = ''
local gate = redis.call('GET', K_GATE)
if gate then
  gate = cjson.decode(gate)
  local applies = false
  for _, s in ipairs(gate.stages or {}) do if s == to then applies = true end end
  if applies then
    local metrics = {}
    local ev = redis.call('HGET', K_EVALS, v)
    if ev then metrics = cjson.decode(ev).metrics or {} end
    local names = {}
    for name, _ in pairs(gate.thresholds or {}) do names[#names + 1] = name end
    table.sort(names)
    local fails = {}
    for _, name in ipairs(names) do
      local op, x = gate.thresholds[name][1], gate.thresholds[name][2]
      local value = metrics[name]
      local ok = false
      if type(value) == 'number' then
        if op == '<' then ok = value < x
        elseif op == '<=' then ok = value <= x
        elseif op == '>' then ok = value > x
        elseif op == '>=' then ok = value >= x
        elseif op == '==' then ok = value == x
        elseif op == '!=' then ok = value ~= x end
      else
        value = cjson.null
      end
      if not ok then
        fails[#fails + 1] = {metric = name, condition = op, threshold = x, value = value}
      end
    end
    if #fails > 0 then failures = cjson.encode(fails) end
  end
end
if failures ~= '' and force ~= '1' then return {'error', 'gate', failures} end

local prod = redis.call('HGET', K_META, 'production') or ''
local demoted = ''
if to == 'production' then
  if prod ~= '' then
    redis.call('HSET', K_STAGES, prod, 'deprecated')
    push_previous(prod)
    demoted = prod
  end
  redis.call('LREM', K_PREV, 0, v)
  redis.call('HSET', K_META, 'production', v)
  local ref = redis.call('HGET', K_REFS, v)
  if ref then redis.call('HSET', K_SNAPS, v, ref) else redis.call('HDEL', K_SNAPS, v) end
elseif from == 'production' then
  push_previous(v)
  redis.call('HDEL', K_META, 'production')
end
if to == 'archived' then redis.call('LREM', K_PREV, 0, v) end
redis.call('HSET', K_STAGES, v, to)
local forced = '0'
if failures ~= '' then forced = '1' end
return audit(kind, v, from, to, '', demoted, prod, forced, failures)
"""


ROLLBACK = _PROLOGUE + """
-- ARGV[5] target version or '' for "the previous production version"
local target = ARGV[5]
if redis.call('EXISTS', K_VERSIONS) == 0 then return {'error', 'model_not_found'} end
local prod = redis.call('HGET', K_META, 'production') or ''
local pos
if target == '' then
  local n = redis.call('LLEN', K_PREV)
  if n == 0 then return {'error', 'no_previous', prod} end
  target = redis.call('LINDEX', K_PREV, -1)
  pos = n - 1
else
  if redis.call('HEXISTS', K_STAGES, target) == 0 then return {'error', 'version_not_found'} end
  if target == prod then return {'error', 'already_production', prod} end
  pos = redis.call('LPOS', K_PREV, target)
  if not pos then return {'error', 'not_previous', redis.call('HGET', K_STAGES, target)} end
end
local from = redis.call('HGET', K_STAGES, target)
if not ALLOWED[from]['production'] then return {'error', 'illegal', from, 'production'} end
-- the target and every version promoted after it leave the rollback stack
if pos == 0 then redis.call('DEL', K_PREV) else redis.call('LTRIM', K_PREV, 0, pos - 1) end
if prod ~= '' then redis.call('HSET', K_STAGES, prod, 'deprecated') end
redis.call('HSET', K_STAGES, target, 'production')
redis.call('HSET', K_META, 'production', target)
-- the reference snapshot taken when target was promoted stays as it was: it is restored as is
return audit('rollback', target, from, 'production', '', prod, prod, '0', '')
"""


ALIAS = _PROLOGUE + """
-- ARGV[5] alias, ARGV[6] version or '' to delete the alias
local alias, v = ARGV[5], ARGV[6]
if redis.call('EXISTS', K_VERSIONS) == 0 then return {'error', 'model_not_found'} end
local old = redis.call('HGET', K_ALIASES, alias) or ''
if v == '' then
  if old == '' then return {'error', 'alias_not_found'} end
  redis.call('HDEL', K_ALIASES, alias)
else
  local stage = redis.call('HGET', K_STAGES, v)
  if not stage then return {'error', 'version_not_found'} end
  if stage == 'archived' then return {'error', 'illegal', stage, 'alias'} end
  redis.call('HSET', K_ALIASES, alias, v)
end
local prod = redis.call('HGET', K_META, 'production') or ''
return audit('alias', v, '', '', alias, old, prod, '0', '')
"""


# Consistent multi-key reads.  A script that never writes runs even when Redis is at maxmemory,
# where MULTI/EXEC is refused outright, so reads keep working on a full Redis.
# ARGV: per command: name, key index (1-based into KEYS), argument count, arguments...
READ_BATCH = """
local READS = {GET=true, HGET=true, HGETALL=true, HKEYS=true, HEXISTS=true, HLEN=true, EXISTS=true,
               LRANGE=true, LLEN=true, ZRANGE=true, ZCARD=true, XRANGE=true, XREVRANGE=true, XLEN=true}
local out = {}
local i = 1
while i <= #ARGV do
  local name, key, n = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
  if not READS[name] then return redis.error_reply('read batch: ' .. name .. ' is not a read command') end
  local args = {}
  for j = 1, n do args[j] = ARGV[i + 2 + j] end
  out[#out + 1] = redis.call(name, key, unpack(args))
  i = i + 3 + n
end
return out
"""


ACTIVE_REFERENCE = """
-- KEYS[1] meta, KEYS[2] snapshots: the production version and its reference snapshot, read together
local prod = redis.call('HGET', KEYS[1], 'production')
if not prod then return {} end
return {prod, redis.call('HGET', KEYS[2], prod) or ''}
"""
