"""Email: what chat may ask for (outgoing), the queue's jobs, rendering, and the way back in (incoming)."""
