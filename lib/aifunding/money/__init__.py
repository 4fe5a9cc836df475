"""Money as people read it: currency conversion at ECB rates, and amounts, dates and shares in words."""
