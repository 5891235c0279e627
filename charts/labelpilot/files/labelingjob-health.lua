-- Argo CD health of a LabelPilot LabelingJob (labelpilot.dev/v1alpha1), from its
-- kstatus conditions (Ready, Reconciling, Stalled, Succeeded, Failed) and phase.
-- Register as argocd-cm key resource.customizations.health.labelpilot.dev_LabelingJob.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function say(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  if c ~= nil and c.reason ~= nil then
    return c.reason
  end
  return fallback
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the job"
  return hs
end

local phase = obj.status.phase
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
local failed = condition("Failed")
local stalled = condition("Stalled")
local ready = condition("Ready")
local reconciling = condition("Reconciling")

if (failed ~= nil and failed.status == "True") or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = say(failed, "The job failed")
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = say(stalled, "The job is stalled")
  return hs
end
if phase == "Completed" and ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = say(ready, "Completed")
  return hs
end
if phase == "Stopped" or phase == "Stopping" or (obj.spec ~= nil and obj.spec.suspend == true) then
  hs.status = "Suspended"
  hs.message = "Suspended (spec.suspend); phase " .. phase
  return hs
end
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
hs.status = "Progressing"
hs.message = say(reconciling, phase)
if obj.status.iteration ~= nil then
  hs.message = phase .. " (iteration " .. obj.status.iteration .. "): " .. hs.message
end
return hs
