-- Argo CD health of a BleepStore, Bucket or AccessKey, from the conditions the operator writes
-- (specs/operator.md §2.4): Degraded when it is Stalled (only a change of a resource helps),
-- Healthy when Ready and not Reconciling, Progressing otherwise (including while the operator
-- has not yet seen the current generation, and while a deletion waits).
local hs = {}
local status = obj.status
if status == nil or status.observedGeneration == nil or status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the current spec"
  return hs
end
local function condition(kind)
  if status.conditions ~= nil then
    for _, c in ipairs(status.conditions) do
      if c.type == kind then
        return c
      end
    end
  end
  return nil
end
local function says(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end
local blocked = condition("DeletionBlocked")
if obj.metadata.deletionTimestamp ~= nil and blocked ~= nil and blocked.status == "True" then
  hs.status = "Progressing"
  hs.message = says(blocked)
  return hs
end
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = says(stalled)
  return hs
end
local ready = condition("Ready")
local reconciling = condition("Reconciling")
if ready ~= nil and ready.status == "True" and (reconciling == nil or reconciling.status ~= "True") then
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = says(reconciling)
elseif ready ~= nil then
  hs.message = says(ready)
else
  hs.message = "Waiting for the operator"
end
return hs
