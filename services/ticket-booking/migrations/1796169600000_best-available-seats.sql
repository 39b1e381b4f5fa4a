-- Up Migration

-- Best-available holds (seat-states.ts `holdSeatsBatch`) take an event's free seats best first
-- (seat id order: the layout's sections, rows and seats front to back) with
-- `WHERE event_id = $1 AND status = 'AVAILABLE' ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED`.
-- (event_id, status) gave the seats in heap order, so every pick would read and sort every free
-- seat of the event (50,000 on a hot one); with id as a third column the index hands them out in
-- order and the pick stops after n. It replaces (event_id, status): the same prefix, so every
-- query that used that one can use this one, and a seat's status change writes one entry either way.
CREATE INDEX seats_event_status_id_idx ON booking.seats (event_id, status, id);
DROP INDEX booking.seats_event_status_idx;
-- The same pick within one section. Partial: a seat enters it only when it becomes AVAILABLE.
CREATE INDEX seats_available_section_idx ON booking.seats (event_id, section, id) WHERE status = 'AVAILABLE';

-- Down Migration

DROP INDEX booking.seats_available_section_idx;
CREATE INDEX seats_event_status_idx ON booking.seats (event_id, status);
DROP INDEX booking.seats_event_status_id_idx;
