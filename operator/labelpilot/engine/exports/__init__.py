"""`labelpilot export`: a finished job's output manifest in the formats other tools read.

`source` reads the output manifest (Ground Truth's augmented manifest) and the job's task
type and labels; `common` holds what the writers share; `coco`, `yolo`, `voc` and `jsonl`
each write one format; `cli` is the command.
"""
