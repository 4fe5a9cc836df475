"""A package loaded and validated: files read inside the package folder, every row checked, package rules."""
