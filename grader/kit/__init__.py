"""The student kit: the public checks without the solution.

`grader student-kit OUT` (grader.kit.build, on the instructor's side) records the course's answers
on the public cases and the hint probes' variants, and packs them with the grader modules the
layer checks need into a wheel. Installed, the kit (grader.kit.runtime) grades a student's
package on those cases in the same sandbox, replaying the recorded answers (grader.kit.replay):
it holds no reference code, no hidden case and no seed that would rebuild one.
"""
