"""The mailbox owner's pages over the event table: day view, summary, search, export."""
