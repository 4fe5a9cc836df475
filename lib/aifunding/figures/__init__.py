"""Charts and the display tables behind them."""
