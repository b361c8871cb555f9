# destination-mysql links libmariadb and shares the connection glue of
# source-mysql (myconn.o).
LIBS_destination-mysql = -lmariadb
DEPS_destination-mysql = $(BUILD)/obj/connectors/source-mysql/myconn.o
$(BUILD)/obj/connectors/destination-mysql/%.o: CFLAGS += -I/usr/include/mariadb
