"""Agendamentos (callbacks and meetings), their reminders, the calendar sync and the .ics feed.
`model` is the room's leaf: the others import it and it imports none of them."""
