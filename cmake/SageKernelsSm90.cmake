# Sources of the Hopper (sm_90a) kernel family.
set(SAGE_SM90_SOURCES
)
