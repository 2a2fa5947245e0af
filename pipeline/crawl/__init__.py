"""What happens to one URL and to a job: the fate of a lease, the steps of the chain,
and the job operations (seed, recrawl, revisits)."""
