"""What keeps a run safe: preflight (nothing changes before every input is checked), the approval
gate (a person sees the plan that is applied), and the environment lock (one run at a time)."""
