"""The release procedure's parts: the health gate (more to come: pre-flight, rollback ladder, report)."""
