"""The engine: runs, steps, leases, timers, retries and recovery, over the store's interfaces."""
