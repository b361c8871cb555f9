# source-postgres links libpq.
LIBS_source-postgres = -lpq
$(BUILD)/obj/connectors/source-postgres/%.o: CFLAGS += -I/usr/include/postgresql
