# destination-postgres links libpq (COPY FROM STDIN, parameterised statements).
LIBS_destination-postgres = -lpq
$(BUILD)/obj/connectors/destination-postgres/%.o: CFLAGS += -I/usr/include/postgresql
