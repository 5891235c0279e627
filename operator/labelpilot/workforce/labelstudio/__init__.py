"""Label Studio (open source, `pip install label-studio`) as LabelPilot's human workforce."""
