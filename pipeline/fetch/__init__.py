"""One HTTP exchange within the crawler's rules: address guard, robots.txt, proxies, limits and deadlines."""
