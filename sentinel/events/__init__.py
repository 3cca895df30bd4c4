"""The Event envelope, the bus, audit and dead letters, and every source that makes an event."""
