"""The step entry points of docs/step-contract.md: prepare, human, train, infer, threshold,
export (`labelpilot.api.steps.Step`). Each runs in-process (`labelpilot run`) or in a Job
(`labelpilot worker <step>`)."""
