"""The trainee's view: the window the participant sees, and the keys and mouse that move them."""
