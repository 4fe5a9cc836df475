"""Derived figures: tidy views, the one adding rule, the view model (filters, currency choice) and its URL form."""
