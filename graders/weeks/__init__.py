"""One module per week: the exercises, their test cases and their catalogue of known mistakes."""
