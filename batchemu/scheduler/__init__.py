"""The one scheduler: tick(now) moves every job and resource one step; runners are polled, never waited on."""
