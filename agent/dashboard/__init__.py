"""The dashboard: the pipeline as a board, a deal's timeline, the scorecard, the unmatched queue.

Server-rendered HTML (Jinja2, autoescaped) and inline SVG charts: no JavaScript, nothing
fetched from elsewhere. Served by the daemon on 127.0.0.1 when `[dashboard] port` is set.
"""
