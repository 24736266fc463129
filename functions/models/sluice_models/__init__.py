"""The models function: model changes without downtime (docs/models.md)."""
