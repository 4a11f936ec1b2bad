"""Simple mode's machinery, below the routers: the screen engine (a stack of pages kept in the FSM), how a
screen becomes big reply-keyboard buttons, and the ids of the pages. The pages themselves register with the
engine from ``bot/routers/guided/``; the start and settings routers enter simple mode through
``bot.navigation`` without importing those pages."""
