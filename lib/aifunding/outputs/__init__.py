"""What leaves the program: exports, the HTML snapshot and report, the headline summary."""
