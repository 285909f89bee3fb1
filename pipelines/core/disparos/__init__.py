"""What to send and to whom: single disparos, campaigns, templates and opt-outs. These create `disparos`
rows; the send room turns due rows into MCP messages."""
