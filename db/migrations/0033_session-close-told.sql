-- Up Migration
-- R-MW-7 (drill G): "a session that has not acknowledged or logged out 15 s after it was told is closed by force".
-- A window's start orders every open session closed at once, but a session is told only by its next heartbeat answer,
-- up to a heartbeat interval (20 s by default) later: with the deadline counted from the start, a session whose
-- heartbeat came 15-20 s after it was closed untold, and the others had 15 s minus their delay. The first heartbeat
-- answer that carries the order now records when it was told, and the 15 s run from there; an order never told (a
-- client gone) keeps the deadline the start gave it: an interval and 15 s.
ALTER TABLE nightshift.session ADD COLUMN close_told_at timestamptz;

-- Down Migration
ALTER TABLE nightshift.session DROP COLUMN close_told_at;
