//! Domain values of the enrolment record, parsed once at the edge (DESIGN.md §5, §8).
