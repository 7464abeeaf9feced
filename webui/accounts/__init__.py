"""Sign-in of mailbox owners (IMAP password check, captcha, lock-out) and of staff."""
