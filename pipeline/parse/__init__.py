"""What a fetched page says: its title, text and links, sitemaps, and the users' extractors."""
