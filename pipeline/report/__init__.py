"""A job's numbers from its records, and the HTML report drawn from them."""
