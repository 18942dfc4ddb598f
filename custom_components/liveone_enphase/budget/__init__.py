"""The call budget: a ledger of every request per Enphase application, and the poll planner."""
