"""Email: what chat may send (outgoing), rendering, and the inbound reply path."""
