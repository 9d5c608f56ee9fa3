"""The public facades: the async uploader (the implementation) and its blocking shell."""
