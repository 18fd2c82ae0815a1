"""The game-master console: the hidden window that watches the trainee's view and steers the world."""
