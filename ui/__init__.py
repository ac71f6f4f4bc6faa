"""What the app shows for a result: colours, CSS, user-facing prose, the model card page, report files."""
